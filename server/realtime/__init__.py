"""Real-time delivery: events, the broker that fans them out across workers, and the hub that
renders them once per view and writes them to this worker's sockets."""
