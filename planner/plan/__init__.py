"""The planner: constraints reduced to a workload and filters, the candidate grid, the rules, the ranked plan."""
