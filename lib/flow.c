/* flow.c: not written yet */
