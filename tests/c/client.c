/* A classic socket client, written for sockchat's interop test: resolves with getaddrinfo, connects,
 * sends each stdin line as a whole zero-padded 256-byte buffer (as many teaching examples do), then
 * waits for one line back from the server (or COUNT lines: a third argument), prints each as "got: LINE"
 * and exits. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s host port [count]\n", argv[0]);
        return 2;
    }
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(argv[1], argv[2], &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "getaddrinfo: %s\n", gai_strerror(rc));
        return 1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        perror("connect");
        return 1;
    }
    char buf[256];
    for (;;) {
        memset(buf, 0, sizeof buf);
        if (!fgets(buf, sizeof buf - 1, stdin)) break;
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) {
            perror("write");
            return 1;
        }
    }
    int count = argc > 3 ? atoi(argv[3]) : 1;
    for (int i = 0; i < count; i++) {
        char line[1024];
        size_t n = 0;
        char c;
        while (n < sizeof line - 1 && read(fd, &c, 1) == 1 && c != '\n') line[n++] = c;
        line[n] = 0;
        printf("got: %s\n", line);
    }
    close(fd);
    return 0;
}
