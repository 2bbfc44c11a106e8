/*
 * fsync / fdatasync fault injection for tests, loaded with LD_PRELOAD: while the file named by
 * CAIRN_FSYNC_FAULT_FILE exists, both fail with EIO (as a failing disk answers them); otherwise
 * they are the real functions (dlsym(RTLD_NEXT)). Node's fs.fsync/fdatasync (libuv) and SQLite's
 * unix VFS both call them through libc, so both are affected.
 *
 *   cc -shared -fPIC -o fsync-fault.so test/helpers/fsync-fault.c -ldl
 *   CAIRN_FSYNC_FAULT_FILE=/tmp/fail LD_PRELOAD=./fsync-fault.so node ...   # touch /tmp/fail to fail
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static int faulting(void) {
  const char *trigger = getenv("CAIRN_FSYNC_FAULT_FILE");
  if (trigger == NULL || trigger[0] == '\0') return 0;
  int saved = errno;
  int exists = access(trigger, F_OK) == 0;
  errno = saved;
  return exists;
}

static int call_real(const char *name, int fd) {
  sync_fn real = (sync_fn)dlsym(RTLD_NEXT, name);
  if (real == NULL) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd);
}

int fsync(int fd) {
  if (faulting()) {
    errno = EIO;
    return -1;
  }
  return call_real("fsync", fd);
}

int fdatasync(int fd) {
  if (faulting()) {
    errno = EIO;
    return -1;
  }
  return call_real("fdatasync", fd);
}
