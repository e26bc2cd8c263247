//! The classic pair the explanations point into: a forking `server.c` and a `client.c`, written for this
//! panel in the style of the textbooks a socket course uses (getaddrinfo first, one process per client).
//! Each explanation names the line of these programs that makes the same call as sockchat did.

/// The one-way chat server: prints each client's lines, one child process per client.
pub const SERVER_C: &str = r#"/* server.c: a one-way chat server, one process per client */
int main(int argc, char *argv[])
{
    struct addrinfo hints = {0}, *res;
    hints.ai_family = AF_INET;            /* IPv4 only */
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;          /* any local address */
    getaddrinfo(NULL, argv[1], &hints, &res);

    int lfd = socket(res->ai_family, res->ai_socktype, 0);
    int yes = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    bind(lfd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    listen(lfd, 10);                      /* backlog: 10 waiting */
    signal(SIGCHLD, reap);                /* reap() calls waitpid */

    for (;;) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int cfd = accept(lfd, (struct sockaddr *)&peer, &len);
        char host[NI_MAXHOST];
        getnameinfo((struct sockaddr *)&peer, len, host,
                    sizeof host, NULL, 0, 0);
        if (fork() == 0) {                /* child: this client */
            close(lfd);
            char buf[256];
            ssize_t n;
            while ((n = recv(cfd, buf, sizeof buf - 1, 0)) > 0) {
                buf[n] = '\0';
                printf("%s: %s", host, buf);
            }
            close(cfd);                   /* n == 0: client closed */
            exit(0);
        }
        close(cfd);                       /* parent: back to accept */
    }
}"#;

/// The client: reads lines from the keyboard and sends them; in the two-way chat it also prints what
/// the server sends.
pub const CLIENT_C: &str = r#"/* client.c: sends each line typed to the server */
int main(int argc, char *argv[])
{
    struct addrinfo hints = {0}, *res;
    hints.ai_family = AF_UNSPEC;          /* IPv4 or IPv6 */
    hints.ai_socktype = SOCK_STREAM;
    getaddrinfo(argv[1], argv[2], &hints, &res);

    int fd = socket(res->ai_family, res->ai_socktype, 0);
    connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);

    char buf[256];
    while (fgets(buf, sizeof buf, stdin) != NULL) {
        send(fd, buf, strlen(buf), 0);
        /* two-way chat: wait for the answer */
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            break;                        /* 0: server closed */
        buf[n] = '\0';
        fputs(buf, stdout);
    }
    shutdown(fd, SHUT_WR);                /* no more to send */
    close(fd);
    return 0;
}"#;

/// Which program a line is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Server,
    Client,
}

impl Program {
    pub fn file(self) -> &'static str {
        match self {
            Program::Server => "server.c",
            Program::Client => "client.c",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Program::Server => SERVER_C,
            Program::Client => CLIENT_C,
        }
    }
}

/// The 1-based number of the first line of `program` containing `marker`, and a few lines around it.
pub fn excerpt(program: Program, marker: &str, around: usize) -> Option<(usize, Vec<(usize, &'static str)>)> {
    let lines: Vec<&'static str> = program.text().lines().collect();
    let at = lines.iter().position(|l| l.contains(marker))?;
    let from = at.saturating_sub(around);
    let to = (at + around + 1).min(lines.len());
    Some((at + 1, (from..to).map(|i| (i + 1, lines[i])).collect()))
}
