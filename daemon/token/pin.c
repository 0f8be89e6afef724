/* SPDX-License-Identifier: MIT */
#include "pin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "secret.h"

/* PKCS#11 PINs are short; a bigger file is the wrong file. */
#define PIN_MAX 256

int pin_read(const char *pin_file, char **ret_pin, char **ret_source)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	char buf[PIN_MAX + 2];
	struct stat st;
	ssize_t n;
	char *pin;

	if (pin_file) {
		path = strdup(pin_file);
	} else {
		const char *dir = secure_getenv("CREDENTIALS_DIRECTORY");
		if (!dir)
			return log_error_errno(ENOENT, "No PIN: neither [token] pin-file nor "
						       "$CREDENTIALS_DIRECTORY/pin (LoadCredential=pin:...) is set");
		if (asprintf(&path, "%s/pin", dir) < 0)
			path = NULL;
	}
	if (!path)
		return -ENOMEM;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return log_error_errno(errno, "Failed to open PIN file %s: %m", path);
	if (fstat(fd, &st) < 0)
		return log_error_errno(errno, "Failed to stat PIN file %s: %m", path);
	if (!S_ISREG(st.st_mode))
		return log_error_errno(EINVAL, "PIN file %s is not a regular file", path);
	if (st.st_mode & 0007)
		log_warning("PIN file %s is readable by others; chmod o-rwx it", path);

	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return log_error_errno(errno, "Failed to read PIN file %s: %m", path);
	if ((size_t)n > PIN_MAX) {
		secret_wipe(buf, sizeof(buf));
		return log_error_errno(EINVAL, "PIN file %s is longer than %d bytes", path, PIN_MAX);
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (n == 0)
		return log_error_errno(EINVAL, "PIN file %s is empty", path);

	pin = strdup(buf);
	secret_wipe(buf, sizeof(buf));
	if (!pin)
		return -ENOMEM;
	*ret_pin = pin;
	*ret_source = TAKE_PTR(path);
	return 0;
}
