"""Decision stores."""
