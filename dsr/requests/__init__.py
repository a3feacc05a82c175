"""Data-subject requests: the workflow rules, their storage, and the pages and jobs around them."""
