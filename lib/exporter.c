/* exporter.c: not written yet */
