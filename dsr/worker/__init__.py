"""The desk's workers: long work (runs of requests, emails, status callbacks, the look-ups whose
duration would tell whether an address is known) leaves the web process as jobs of a Huey queue
that `dsr worker` processes carry out.

The store stays the truth: requests, the outbox and the callback deliveries say what is to do and
who holds it (leases); a message of the queue only wakes a worker up, and `recovery` finds again
what a worker that died had in hand. `enqueue` is what the web side calls; `queue` builds the
queue from the settings; `tasks` are the jobs; `cli` is the `dsr worker` command.
"""
