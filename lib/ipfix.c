/* ipfix.c: not written yet */
