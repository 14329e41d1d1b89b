/*
 * nnp.c - reports the effective uid it runs with.
 *
 * Installed setuid root in the nonewprivs look-alike image. critest starts it
 * as uid 1000: with no_new_privs unset the setuid bit takes effect and the
 * effective uid is 0; with no_new_privs set the kernel ignores the bit and the
 * effective uid stays 1000. critest compares the container log line.
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("Effective uid: %ld\n", (long)geteuid());
	return fflush(stdout) == 0 ? 0 : 1;
}
