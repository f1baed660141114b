"""Local fakes of the platforms' public APIs, for the connectors' contract tests only.

Each fake follows its platform's documented endpoints, payloads and error bodies, keeps its state
in memory and injects faults on request. Product code never imports this package.
"""
