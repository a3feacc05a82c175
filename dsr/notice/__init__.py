"""The privacy notice (GDPR Art. 13 and 14, R52), published from the data map at `/privacy`."""
