/* decode_ip.c: not written yet */
