"""The five guardia services of the design card; each package reads alone (app, rules, policy, state)."""
