"""Identity: users, roles, API keys, bearer tokens, and the checks every request passes."""
