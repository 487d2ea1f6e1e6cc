"""guardia's use of NATS JetStream: topology, publishing, consuming with dead letters, service state."""
