"""Built-in model providers. ``lexical`` is pure Python; ``litellm_provider`` plugs it into litellm."""
