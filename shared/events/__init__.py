"""Events: the CloudEvents envelope, the transactional outbox, its relay and the consumer helper."""
