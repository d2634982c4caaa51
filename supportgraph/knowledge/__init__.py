"""Knowledge: the embedding model, help-article chunking, and the Chroma index."""
