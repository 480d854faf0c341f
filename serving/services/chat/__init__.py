"""The conversational agent (flow 6): dialogue state, the offline grounded responder, and the fact checks that
keep any reply (local or LLM) to the prices and stock the catalog really has."""
