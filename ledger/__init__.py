"""Samsyn's write side: the event catalogue, aggregates and their rules, command handling."""
