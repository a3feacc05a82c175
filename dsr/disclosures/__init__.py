"""The record of disclosures: which recipients were sent a person's data, outliving the rows sent
(Art. 19, R49)."""
