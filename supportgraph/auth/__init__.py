"""Who the caller is: API keys, signed tokens, rate limits and the record of who touched what."""
