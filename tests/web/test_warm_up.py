"""A web process warms itself up before its first request (`dsr.warm_up`, called by gunicorn's
`post_worker_init` in `dsr.gunicorn_conf`: tests/production/test_gunicorn.py sees each worker
say so): after it, a learner's first form and first
submission in either language load no template, parse no map, read no catalogue and import no
module. That is checked in a fresh interpreter, where nothing is loaded yet: in this test
process, other tests would have loaded it all already."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from dsr.outbox.emails import EMAIL_TEMPLATES
from dsr.warm_up import warm_up
from tests.conftest import TEST_SETTINGS, MakeApp

ROOT = Path(__file__).resolve().parents[2]

_FIRST_REQUESTS = """
import json, re, sys
import babel.support
import dsr.datamap
import jinja2.loaders
from dsr.app import create_app
from dsr.warm_up import warm_up

app = create_app(json.loads(sys.argv[1]))
done = warm_up(app)
loaded = []
def refuse(kind):
    def loading(*args, **kwargs):
        loaded.append(kind)
        raise AssertionError(kind + " loaded after the warm-up")
    return loading
jinja2.loaders.BaseLoader.get_source = refuse("template")
jinja2.loaders.FileSystemLoader.get_source = refuse("template")
babel.support.Translations.load = classmethod(refuse("catalogue"))
dsr.datamap.load_data_map = refuse("map")
modules = set(sys.modules)
client = app.test_client()
answers = []
for number, language in enumerate(("fr", "en")):
    page = client.get("/", headers={"Accept-Language": language})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    sent = client.post("/", headers={"Accept-Language": language}, data={
        "csrf_token": token, "email": f"first.{number}@example.org", "request_type": "access",
        "language": language, "message": "", "website": "",
    })
    answers += [page.status_code, sent.status_code, sent.headers.get("Location", "")]
print(json.dumps({
    "templates": done.templates, "map_loaded": done.map_loaded, "frozen": done.frozen_objects,
    "answers": answers, "loaded": loaded, "imported": sorted(set(sys.modules) - modules),
}))
"""


def test_after_the_warm_up_the_first_submissions_load_nothing(store_url: str) -> None:
    settings = {**TEST_SETTINGS, "DATABASE_URL": store_url, "QUEUE_URL": "immediate"}
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_REQUESTS, json.dumps(settings)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    page, sent, location = shown["answers"][:3]
    assert (page, sent) == (200, 302) and location.endswith("/sent"), shown["answers"]
    assert shown["answers"][3:5] == [200, 302], shown["answers"]
    assert shown["loaded"] == []
    assert shown["imported"] == [], " ".join(m for m in shown["imported"] if m.count(".") < 2)
    assert shown["map_loaded"] is True
    email_templates = len(list(EMAIL_TEMPLATES.iterdir()))
    assert shown["templates"] > email_templates
    assert shown["frozen"] > 0


def test_a_map_that_does_not_load_leaves_the_process_to_start(
    make_app: MakeApp, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("categories: [not a map\n", encoding="utf-8")
    app = make_app(DATA_MAP=str(broken))
    try:
        done = warm_up(app)
    finally:
        gc.unfreeze()  # this test process's objects go back to the collector
    assert done.map_loaded is False
    assert done.templates > 0
