"""Getting the data in: download, parse once into stores, windows and anomalies."""
