"""Carrying out approved requests: the runner that moves a request through processing, and the
executors, one per type of request, that act on the organisation's systems through the map."""
