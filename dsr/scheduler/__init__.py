"""The scheduler: one process that runs the periodic jobs (mail, callbacks, deadlines, expiry,
purges, minimisation), with its job store in the tool's database and a lease so that only one
scheduler acts at a time."""
