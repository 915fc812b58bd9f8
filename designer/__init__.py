"""LayerLoom's desktop designer (PySide6): built on the engine, never imported by it."""
