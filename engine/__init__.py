"""The atonix engine: an offline twin of the AtonixCorp cloud (models, rules and the API route table)."""
