"""Automation (flows 8, 10-13, 22): the events outbox every flow writes to, its dispatcher (n8n or the local
actions), and the actions n8n calls back."""
