"""The atonix engine: an offline twin of the AtonixCorp cloud (models, rules, the route table)."""
