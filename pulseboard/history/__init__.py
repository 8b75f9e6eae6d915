"""Indicator history (SPEC section 9): final records kept per session in a Kafka topic, and
an on-disk index of them that every push server rebuilds from that topic. See docs/history.md."""
