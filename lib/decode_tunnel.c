/* decode_tunnel.c: not written yet */
