"""Developer tools that run beside the product, never inside it."""
