/* The Windows sample of gameliftstreams-local: a console program, built with MinGW-w64
 * (Debian's gcc-mingw-w64-x86-64: `x86_64-w64-mingw32-gcc -o console.exe console.c`), that
 * behaves as a Windows build on Amazon GameLift Streams does under the PROTON or WINDOWS
 * runtime: it writes its log under %USERPROFILE%\logs, a save next to itself, prints its
 * arguments, and exits with the code its first argument names (default 0), after the seconds
 * its second names (default 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

int main(int argc, char **argv) {
    const char *profile = getenv("USERPROFILE");
    char folder[MAX_PATH], path[MAX_PATH];
    snprintf(folder, sizeof folder, "%s\\logs", profile ? profile : ".");
    CreateDirectoryA(folder, NULL);
    snprintf(path, sizeof path, "%s\\game.log", folder);
    FILE *log = fopen(path, "a");
    printf("profile: %s\n", profile ? profile : "(none)");
    for (int i = 0; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
    if (log) {
        fprintf(log, "windows game log line\n");
        fclose(log);
    }
    printf("log: %s %s\n", path, log ? "written" : "not written");
    FILE *save = fopen("save.dat", "w");
    if (save) {
        fprintf(save, "saved\n");
        fclose(save);
    }
    fflush(stdout);
    if (argc > 2) Sleep(1000 * atoi(argv[2]));
    return argc > 1 ? atoi(argv[1]) : 0;
}
