"""File formats: one module owns each kind of file (layout, writer, reader)."""
