/* flow_table.c: not written yet */
