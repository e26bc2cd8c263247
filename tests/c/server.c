/* A classic forking socket server, written for sockchat's interop test: getaddrinfo with AI_PASSIVE,
 * SO_REUSEADDR before bind, one process per client reaped on SIGCHLD with waitpid, getnameinfo after
 * accept. Prints "listening PORT" once, then "HOST PORT: LINE" for every line a client sends. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void reap(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

int main(void) {
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo("127.0.0.1", "0", &hints, &res) != 0) return 1;
    int ls = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    int yes = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (ls < 0 || bind(ls, res->ai_addr, res->ai_addrlen) != 0 || listen(ls, 16) != 0) {
        perror("listen");
        return 1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage me;
    socklen_t mlen = sizeof me;
    getsockname(ls, (struct sockaddr *)&me, &mlen);
    char port[16];
    getnameinfo((struct sockaddr *)&me, mlen, NULL, 0, port, sizeof port, NI_NUMERICSERV);
    printf("listening %s\n", port);
    fflush(stdout);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept(ls, (struct sockaddr *)&peer, &plen);
        if (fd < 0) continue;
        if (fork() == 0) {
            close(ls);
            char host[256], serv[16];
            getnameinfo((struct sockaddr *)&peer, plen, host, sizeof host, serv, sizeof serv, NI_NUMERICSERV);
            FILE *in = fdopen(fd, "r");
            char line[1024];
            while (in && fgets(line, sizeof line, in)) {
                line[strcspn(line, "\r\n")] = 0;
                printf("%s %s: %s\n", host, serv, line);
                fflush(stdout);
            }
            _exit(0);
        }
        close(fd);
    }
}
