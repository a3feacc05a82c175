"""Legal holds (Art. 17(3)(e), R50): categories of one person's data kept for a legal claim."""
