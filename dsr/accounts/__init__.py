"""Staff accounts, roles, login and the guard that protects every staff route."""
