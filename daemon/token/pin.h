/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Reads the token PIN from pin_file, or from $CREDENTIALS_DIRECTORY/pin
 * (systemd LoadCredential=) when pin_file is NULL. Never from argv or the
 * environment. One trailing newline is dropped. The caller wipes the result
 * (_cleanup_erase_free_).
 */
int pin_read(const char *pin_file, char **ret_pin, char **ret_source);
