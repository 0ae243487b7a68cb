// The simulated board: the CFSoC Verilog model (Verilator) with its UART pins bridged to a
// pseudo-terminal, so that the host driver talks to it through the same serial transport as
// to a real board. Prints the pseudo-terminal's path on stdout, then runs until stdin closes.
//
// usage: simboard CLOCKS_PER_BIT
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <deque>
#include <vector>
#include "Vsoc.h"
#include "verilated.h"

int main(int argc, char** argv) {
    const int D = argc > 1 ? atoi(argv[1]) : 4;
    Verilated::commandArgs(argc, argv);
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master)) { perror("pty"); return 1; }
    const char* name = ptsname(master);
    int slave = open(name, O_RDWR | O_NOCTTY);   // kept open: no hang-up when a client closes
    struct termios tio;
    tcgetattr(slave, &tio);
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);
    fcntl(master, F_SETFL, O_NONBLOCK);
    printf("%s\n", name);
    fflush(stdout);

    Vsoc* top = new Vsoc;
    top->clk = 0; top->rst = 1; top->uart_rx = 1;
    for (int i = 0; i < 8; i++) { top->clk = !top->clk; top->eval(); }
    top->rst = 0;

    std::deque<unsigned char> inq;
    std::vector<unsigned char> outq;
    int rx_bits = 0, rx_timer = 0; unsigned rx_shift = 0;     // host -> device
    int tx_state = 0, tx_timer = 0, tx_bit = 0; unsigned tx_byte = 0;  // device -> host
    long idle = 0, tx_quiet = 0;
    unsigned char buf[4096];
    for (;;) {
        // host -> device: one byte at a time, bit by bit
        if (rx_bits == 0 && inq.empty()) {
            ssize_t n = read(master, buf, sizeof buf);
            for (ssize_t i = 0; i < n; i++) inq.push_back(buf[i]);
        }
        if (rx_bits == 0 && !inq.empty()) {
            rx_shift = (1u << 9) | ((unsigned)inq.front() << 1);   // start 0, data, stop 1
            inq.pop_front();
            rx_bits = 10; rx_timer = D;
        }
        if (rx_bits) {
            top->uart_rx = rx_shift & 1;
            if (--rx_timer == 0) { rx_shift >>= 1; rx_bits--; rx_timer = D; }
        } else {
            top->uart_rx = 1;
        }
        top->clk = 1; top->eval();
        top->clk = 0; top->eval();
        // device -> host: sample the middle of each bit
        int tx = top->uart_tx;
        if (tx_state == 0) {
            if (!tx) { tx_state = 1; tx_timer = D / 2; }
        } else if (--tx_timer == 0) {
            if (tx_state == 1) { tx_state = 2; tx_bit = 0; tx_byte = 0; tx_timer = D; }
            else if (tx_state == 2) {
                tx_byte |= (unsigned)tx << tx_bit;
                tx_timer = D;
                if (++tx_bit == 8) tx_state = 3;
            } else {
                outq.push_back((unsigned char)tx_byte);
                tx_state = 0;
            }
        }
        tx_quiet = tx_state ? 0 : tx_quiet + 1;
        // hand the host whole replies: flush after two byte times of silence on the line
        if (!outq.empty() && (tx_quiet > 20 * D || outq.size() > 1024)) {
            ssize_t n = write(master, outq.data(), outq.size());
            if (n > 0) outq.erase(outq.begin(), outq.begin() + n);
        }
        bool active = rx_bits || !inq.empty() || tx_state || !outq.empty() || top->busy;
        idle = active ? 0 : idle + 1;
        if (idle > 20000) {   // nothing happening: wait for the host (or for stdin to close)
            struct pollfd fds[2] = {{master, POLLIN, 0}, {0, POLLIN, 0}};
            poll(fds, 2, 2);
            if (fds[1].revents & (POLLHUP | POLLIN | POLLERR)) {
                char c;
                if (read(0, &c, 1) <= 0) break;
            }
            if (fds[0].revents & POLLIN) idle = 0;
        }
    }
    top->final();
    delete top;
    return 0;
}
