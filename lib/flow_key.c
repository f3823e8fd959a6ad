/* flow_key.c: not written yet */
