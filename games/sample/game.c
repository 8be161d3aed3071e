/* The sample game of gameliftstreams-local: an SDL2 program that behaves as a real Linux
 * build does on Amazon GameLift Streams, so that the whole path can be seen and tested.
 *
 * - It asks for full screen (SDL_WINDOW_FULLSCREEN_DESKTOP: EWMH _NET_WM_STATE_FULLSCREEN)
 *   with a window of --size WxH (default 1280x720) before the window manager makes it fill
 *   the display.
 * - It draws a known picture: a dark blue background; red, green, blue and white 64 px squares
 *   in the top-left, top-right, bottom-left and bottom-right corners; a yellow 48 px player
 *   square, cyan while a mouse button is held, centred until arrow keys or WASD move it by
 *   16 px a press (wherever the window's size goes, it keeps its place from the centre); a
 *   magenta 12 px marker at the mouse; the last application message and the last key as text.
 * - It connects to $GAMELIFTSTREAMS_MESSAGE_ENDPOINT (host:port, frames of a 4-byte
 *   big-endian length and the bytes), --messages-after S seconds after it starts (default 0),
 *   shows each message it gets and answers "echo:<message>".
 * - It logs to stdout and to logs/game.log in its working directory.
 * - Escape exits with --exit-code N (default 0); closing the window exits with 0.
 * - --relative-mouse hides the cursor and takes relative motion (SDL's relative mouse mode, as
 *   first-person games do): the marker moves by the motion from the centre.
 * - --animate draws a white bar sweeping along the bottom every frame (for benchmarks: a
 *   picture that always changes).
 * - --tone HZ plays a sine of HZ hertz (48 kHz stereo, SDL audio: the session's PulseAudio).
 * - --listen records the default input (the page's microphone) and, each second, logs what it
 *   heard ("heard: 440 Hz" or "heard: silence") and sends "heard:440" as a message.
 * - What a game can reach, for the host's sandbox tests, each logged before the window opens:
 *   --probe PATH (repeatable) reads PATH (a folder: lists it) and logs "probe PATH: ok" or
 *   the error; --try-write PATH appends to PATH and logs "write PATH: ok" or the error;
 *   --connect HOST:PORT opens a TCP connection and logs "connect HOST:PORT: ok" or the error.
 * - --beep-flash: every 2 s, for 200 ms, a white square fills the left half's middle and a
 *   1 kHz tone plays, together (for measuring how far sound and picture drift apart).
 * - --alloc MB takes MB MiB of memory, touching each page, 16 MiB at a time, logging every
 *   64 MiB ("allocated N MiB"), then goes on as usual; --spin N keeps N threads busy.
 */
#include <SDL.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

static FILE *logfile;

/* The tone's frequency and the sine's phase (the audio callback's). */
static double tone_hz, tone_phase;

/* --beep-flash: the tone plays only while this is set (the main loop's, with the flash). */
static int beep_flash;
static volatile int beeping;

/* What the microphone brought in the last second (the capture callback's). */
static Sint16 heard[48000];
static int heard_n, heard_total;

static void record(void *user, Uint8 *stream, int len) {
    (void)user;
    const Sint16 *s = (const Sint16 *)stream;
    for (int i = 0; i < len / 2 && heard_n < 48000; i++) heard[heard_n++] = s[i];
    heard_total += len / 2;
}

static void tone(void *user, Uint8 *stream, int len) {
    (void)user;
    Sint16 *s = (Sint16 *)stream;
    for (int i = 0; i < len / 4; i++) {
        Sint16 v = (beep_flash && !beeping) ? 0 : (Sint16)(8000.0 * sin(tone_phase));
        s[2 * i] = v;
        s[2 * i + 1] = v;
        tone_phase += 2.0 * M_PI * tone_hz / 48000.0;
        if (tone_phase > 2.0 * M_PI) tone_phase -= 2.0 * M_PI;
    }
}

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (logfile) {
        va_start(ap, fmt);
        vfprintf(logfile, fmt, ap);
        va_end(ap);
        fprintf(logfile, "\n");
        fflush(logfile);
    }
}

/* A 3x5 font: 15 cells a glyph, row by row. */
static const char *glyph(char c) {
    static const char *digits[] = {"111101101101111", "010110010010111", "111001111100111", "111001111001111",
                                   "101101111001001", "111100111001111", "111100111101111", "111001001001001",
                                   "111101111101111", "111101111001111"};
    static const char *letters[] = {
        "010101111101101", "110101110101110", "011100100100011", "110101101101110", "111100110100111",
        "111100110100100", "011100101101011", "101101111101101", "111010010010111", "001001001101010",
        "101101110101101", "100100100100111", "101111111101101", "110101101101101", "010101101101010",
        "110101110100100", "010101101110011", "110101110101101", "011100010001110", "111010010010010",
        "101101101101111", "101101101101010", "101101111111101", "101101010101101", "101101010010010",
        "111001010100111"};
    if (c >= '0' && c <= '9') return digits[c - '0'];
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    if (c >= 'A' && c <= 'Z') return letters[c - 'A'];
    switch (c) {
    case ':': return "000010000010000";
    case '-': return "000000111000000";
    case '.': return "000000000000010";
    case '!': return "010010010000010";
    case '?': return "110001010000010";
    case '_': return "000000000000111";
    default: return "000000000000000";
    }
}

static void text(SDL_Renderer *r, int x, int y, int scale, const char *s) {
    for (; *s; s++, x += 4 * scale) {
        const char *g = glyph(*s);
        for (int i = 0; i < 15; i++) {
            if (g[i] == '1') {
                SDL_Rect px = {x + (i % 3) * scale, y + (i / 3) * scale, scale, scale};
                SDL_RenderFillRect(r, &px);
            }
        }
    }
}

/* The message endpoint: one TCP connection, frames of a 4-byte big-endian length. */
static int msg_fd = -1;
static uint8_t inbuf[65536 + 4];
static size_t inlen;

static void msg_connect(const char *endpoint) {
    char host[256];
    const char *colon = strrchr(endpoint, ':');
    if (!colon || (size_t)(colon - endpoint) >= sizeof host) return;
    memcpy(host, endpoint, (size_t)(colon - endpoint));
    host[colon - endpoint] = 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    msg_fd = fd;
    inlen = 0;
    say("messages: connected to %s", endpoint);
}

static void msg_send(const uint8_t *data, uint32_t n) {
    if (msg_fd < 0) return;
    uint8_t head[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    fcntl(msg_fd, F_SETFL, fcntl(msg_fd, F_GETFL) & ~O_NONBLOCK);
    if (write(msg_fd, head, 4) != 4 || write(msg_fd, data, n) != (ssize_t)n) {
        close(msg_fd);
        msg_fd = -1;
        return;
    }
    fcntl(msg_fd, F_SETFL, fcntl(msg_fd, F_GETFL) | O_NONBLOCK);
}

/* Read what arrived; for each whole message, `last` gets it (as text) and it is answered. */
static void msg_poll(char *last, size_t cap) {
    if (msg_fd < 0) return;
    for (;;) {
        ssize_t got = read(msg_fd, inbuf + inlen, sizeof inbuf - inlen);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            say("messages: endpoint closed");
            close(msg_fd);
            msg_fd = -1;
            return;
        }
        if (got < 0) break;
        inlen += (size_t)got;
    }
    while (inlen >= 4) {
        uint32_t n = (uint32_t)inbuf[0] << 24 | (uint32_t)inbuf[1] << 16 | (uint32_t)inbuf[2] << 8 | inbuf[3];
        if (n > 65536) {
            close(msg_fd);
            msg_fd = -1;
            return;
        }
        if (inlen < 4 + n) break;
        size_t keep = n < cap - 1 ? n : cap - 1;
        memcpy(last, inbuf + 4, keep);
        last[keep] = 0;
        say("message: %s", last);
        uint8_t reply[65536];
        uint32_t m = (uint32_t)snprintf((char *)reply, sizeof reply, "echo:%.*s", (int)(n < 60000 ? n : 60000),
                                        (const char *)inbuf + 4);
        msg_send(reply, m);
        memmove(inbuf, inbuf + 4 + n, inlen - 4 - n);
        inlen -= 4 + n;
    }
}

/* Read PATH (a folder: list it); "ok" or the error. */
static void probe(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        int n = 0;
        while (readdir(d)) n++;
        closedir(d);
        say("probe %s: ok (%d entries)", path, n);
        return;
    }
    int fd = open(path, O_RDONLY);
    char b[64];
    if (fd >= 0 && read(fd, b, sizeof b) >= 0) {
        close(fd);
        say("probe %s: ok", path);
        return;
    }
    say("probe %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
}

static void try_write(const char *path) {
    int fd = open(path, O_WRONLY | O_APPEND);
    if (fd < 0 || write(fd, "x", 1) != 1) say("write %s: %s", path, strerror(errno));
    else say("write %s: ok", path);
    if (fd >= 0) close(fd);
}

static void try_connect(const char *hostport) {
    char host[64];
    int port = 0;
    if (sscanf(hostport, "%63[^:]:%d", host, &port) != 2) return;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) say("connect %s: ok", hostport);
    else say("connect %s: %s", hostport, strerror(errno));
    if (fd >= 0) close(fd);
}

static void *spin(void *arg) {
    volatile unsigned long n = 0;
    (void)arg;
    for (;;) n++;
    return NULL;
}

static void alloc(long mib) {
    long done = 0;
    while (done < mib) {
        char *p = malloc(16 << 20);
        if (!p) {
            say("allocation failed at %ld MiB", done);
            return;
        }
        for (long i = 0; i < (16 << 20); i += 4096) p[i] = 1;
        done += 16;
        if (done % 64 == 0) say("allocated %ld MiB", done);
    }
    say("allocated all %ld MiB", mib);
}

int main(int argc, char **argv) {
    int listening = 0;
    int width = 1280, height = 720, exit_code = 0, windowed = 0, messages_after = 0, animate = 0, relative = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc) sscanf(argv[++i], "%dx%d", &width, &height);
        else if (!strcmp(argv[i], "--exit-code") && i + 1 < argc) exit_code = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--windowed")) windowed = 1;
        else if (!strcmp(argv[i], "--animate")) animate = 1;
        else if (!strcmp(argv[i], "--relative-mouse")) relative = 1;
        else if (!strcmp(argv[i], "--tone") && i + 1 < argc) tone_hz = atof(argv[++i]);
        else if (!strcmp(argv[i], "--listen")) listening = 1;
        else if (!strcmp(argv[i], "--beep-flash")) beep_flash = 1;
        else if (!strcmp(argv[i], "--messages-after") && i + 1 < argc) messages_after = atoi(argv[++i]);
    }
    mkdir("logs", 0755);
    logfile = fopen("logs/game.log", "a");
    for (int i = 0; i < argc; i++) say("arg %d: %s", i, argv[i]);
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--probe")) probe(argv[i + 1]);
        else if (!strcmp(argv[i], "--try-write")) try_write(argv[i + 1]);
        else if (!strcmp(argv[i], "--connect")) try_connect(argv[i + 1]);
        else if (!strcmp(argv[i], "--alloc")) alloc(atol(argv[i + 1]));
        else if (!strcmp(argv[i], "--spin")) {
            for (int t = 0; t < atoi(argv[i + 1]); t++) {
                pthread_t th;
                pthread_create(&th, NULL, spin, NULL);
            }
        }
    }
    const char *mode = getenv("GAME_MODE");
    say("GAME_MODE=%s", mode ? mode : "");
    const char *endpoint = getenv("GAMELIFTSTREAMS_MESSAGE_ENDPOINT");

    SDL_SetHint(SDL_HINT_RENDER_DRIVER, "software");
    /* The window's pixels go to the X server as they are (MIT-SHM), not through a GL context:
       on a display without a GPU that GL is Mesa's llvmpipe, which costs more than the drawing. */
    SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        say("SDL_Init failed: %s", SDL_GetError());
        return 2;
    }
    Uint32 flags = SDL_WINDOW_SHOWN | (windowed ? 0 : SDL_WINDOW_FULLSCREEN_DESKTOP);
    if (beep_flash && tone_hz <= 0) tone_hz = 1000;
    if (tone_hz > 0) {
        SDL_AudioSpec want = {0}, got;
        want.freq = 48000;
        want.format = AUDIO_S16SYS;
        want.channels = 2;
        want.samples = 512;
        want.callback = tone;
        SDL_AudioDeviceID dev;
        if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0 ||
            !(dev = SDL_OpenAudioDevice(NULL, 0, &want, &got, 0))) {
            say("no sound: %s", SDL_GetError());
        } else {
            say("tone: %.0f Hz through %s", tone_hz, SDL_GetCurrentAudioDriver());
            SDL_PauseAudioDevice(dev, 0);
        }
    }
    SDL_AudioDeviceID mic = 0;
    if (listening) {
        SDL_AudioSpec want = {0}, got;
        want.freq = 48000;
        want.format = AUDIO_S16SYS;
        want.channels = 1;
        want.samples = 480;
        want.callback = record;
        if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0 || !(mic = SDL_OpenAudioDevice(NULL, 1, &want, &got, 0))) {
            say("no microphone: %s", SDL_GetError());
        } else {
            say("listening through %s", SDL_GetCurrentAudioDriver());
            SDL_PauseAudioDevice(mic, 0);
        }
    }
    Uint32 next_heard = SDL_GetTicks() + 1000;
    SDL_Window *win = SDL_CreateWindow("gameliftstreams-local sample game", SDL_WINDOWPOS_CENTERED,
                                       SDL_WINDOWPOS_CENTERED, width, height, flags);
    if (!win) {
        say("SDL_CreateWindow failed: %s", SDL_GetError());
        return 2;
    }
    SDL_Renderer *r = SDL_CreateRenderer(win, -1, SDL_RENDERER_SOFTWARE);
    if (!r) {
        say("SDL_CreateRenderer failed: %s", SDL_GetError());
        return 2;
    }
    say("window: asked %dx%d%s", width, height, windowed ? "" : " full screen");
    if (relative && SDL_SetRelativeMouseMode(SDL_TRUE) != 0) say("relative mouse refused: %s", SDL_GetError());
    int dx = 0, dy = 0, mx = -1, my = -1, held = 0, w = 0, h = 0, drawn_w = 0, drawn_h = 0;
    char last[256] = "", key[64] = "", title[320];
    Uint32 next_try = (Uint32)messages_after * 1000;
    for (;;) {
        SDL_Event e;
        while (SDL_PollEvent(&e)) {
            switch (e.type) {
            case SDL_QUIT:
                say("quit");
                return 0;
            case SDL_KEYDOWN: {
                SDL_Keycode k = e.key.keysym.sym;
                snprintf(key, sizeof key, "%s", SDL_GetKeyName(k));
                say("key down: %s", key);
                if (k == SDLK_ESCAPE) {
                    say("exiting with %d", exit_code);
                    return exit_code;
                }
                if (k == SDLK_LEFT || k == SDLK_a) dx -= 16;
                if (k == SDLK_RIGHT || k == SDLK_d) dx += 16;
                if (k == SDLK_UP || k == SDLK_w) dy -= 16;
                if (k == SDLK_DOWN || k == SDLK_s) dy += 16;
                break;
            }
            case SDL_MOUSEMOTION:
                if (relative) {
                    if (mx < 0) {
                        mx = w / 2;
                        my = h / 2;
                    }
                    mx += e.motion.xrel;
                    my += e.motion.yrel;
                    say("mouse rel %d,%d", e.motion.xrel, e.motion.yrel);
                } else {
                    mx = e.motion.x;
                    my = e.motion.y;
                }
                break;
            case SDL_MOUSEBUTTONDOWN:
                held = 1;
                say("mouse down %d at %d,%d", e.button.button, e.button.x, e.button.y);
                break;
            case SDL_MOUSEBUTTONUP:
                held = 0;
                break;
            case SDL_MOUSEWHEEL:
                dy -= 16 * e.wheel.y;
                say("wheel %d", e.wheel.y);
                break;
            }
        }
        if (endpoint && msg_fd < 0 && SDL_GetTicks() >= next_try) {
            msg_connect(endpoint);
            next_try = SDL_GetTicks() + 500;
        }
        msg_poll(last, sizeof last);
        if (mic && SDL_GetTicks() >= next_heard) {
            next_heard = SDL_GetTicks() + 1000;
            SDL_LockAudioDevice(mic);
            double energy = 0;
            int rising = 0;
            for (int i = 0; i < heard_n; i++) {
                energy += (double)heard[i] * heard[i];
                if (i > 0 && heard[i - 1] < 0 && heard[i] >= 0) rising++;
            }
            int n = heard_n, total = heard_total;
            heard_n = 0;
            SDL_UnlockAudioDevice(mic);
            double rms = n ? sqrt(energy / n) : 0;
            if (n == 0) {
                say("heard: nothing (%d samples so far)", total);
            } else if (rms < 100) {
                say("heard: silence");
            } else {
                double hz = rising / (n / 48000.0);
                say("heard: %.0f Hz", hz);
                char text[32];
                int m = snprintf(text, sizeof text, "heard:%.0f", hz);
                msg_send((const uint8_t *)text, (uint32_t)m);
            }
        }
        SDL_GetRendererOutputSize(r, &w, &h);
        if (w != drawn_w || h != drawn_h) {
            drawn_w = w;
            drawn_h = h;
            say("window: drawn at %dx%d", w, h);
        }
        SDL_SetRenderDrawColor(r, 20, 40, 120, 255);
        SDL_RenderClear(r);
        SDL_Rect corners[4] = {{0, 0, 64, 64}, {w - 64, 0, 64, 64}, {0, h - 64, 64, 64}, {w - 64, h - 64, 64, 64}};
        Uint8 colors[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
        for (int i = 0; i < 4; i++) {
            SDL_SetRenderDrawColor(r, colors[i][0], colors[i][1], colors[i][2], 255);
            SDL_RenderFillRect(r, &corners[i]);
        }
        SDL_Rect player = {w / 2 - 24 + dx, h / 2 - 24 + dy, 48, 48};
        SDL_SetRenderDrawColor(r, held ? 0 : 255, 255, held ? 255 : 0, 255);
        SDL_RenderFillRect(r, &player);
        if (mx >= 0) {
            SDL_Rect mark = {mx - 6, my - 6, 12, 12};
            SDL_SetRenderDrawColor(r, 255, 0, 255, 255);
            SDL_RenderFillRect(r, &mark);
        }
        if (beep_flash) {
            int on = SDL_GetTicks() % 2000 < 200;
            beeping = on;
            if (on) {
                SDL_Rect flash = {w / 8, h / 2 - 100, w / 4, 200};
                SDL_SetRenderDrawColor(r, 255, 255, 255, 255);
                SDL_RenderFillRect(r, &flash);
            }
        }
        if (animate && w > 0) {
            SDL_Rect bar = {(int)(SDL_GetTicks() / 4 % (Uint32)w), h - 160, 24, 80};
            SDL_SetRenderDrawColor(r, 255, 255, 255, 255);
            SDL_RenderFillRect(r, &bar);
        }
        SDL_SetRenderDrawColor(r, 255, 255, 255, 255);
        snprintf(title, sizeof title, "MSG:%s", last);
        text(r, 80, 16, 4, title);
        snprintf(title, sizeof title, "KEY:%s", key);
        text(r, 80, 44, 4, title);
        SDL_RenderPresent(r);
        SDL_Delay(16);
    }
}
