"""What bench/serving.py serves beside the predictor: a constant-answer ASGI app (the server
stack's ceiling), MLflow's pyfunc wrapper and an MLServer runtime for the same .keras file."""
