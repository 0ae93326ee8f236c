# Worker programs (see workers/README in the top README).
