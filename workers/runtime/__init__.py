"""What a worker process needs around the engine: media encoding, file providers, models, pack hosts."""
