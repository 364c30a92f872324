`timescale 1ns / 1ps
// edgec_ctrl: the accelerator's control and stream framing, as Vitis HLS builds them for
// the C++ top (an ap_ctrl_hs block protocol behind an s_axilite bundle "control"):
//   0x00 AP_CTRL  bit 0 ap_start (set by the host, cleared when the run starts unless
//                 bit 7 auto_restart), bit 1 ap_done (cleared on read), bit 2 ap_idle,
//                 bit 3 ap_ready (cleared on read), bit 7 auto_restart
//   0x04 GIE      bit 0 global interrupt enable
//   0x08 IER      bit 0 ap_done, bit 1 ap_ready interrupt enable
//   0x0C ISR      the same two bits, toggled by writing 1
//   0x10 frames   frames of the next run
// A run of F frames takes F*IN_BEATS input beats (no more: TREADY stays low beyond them)
// and lets F*OUT_BEATS output beats out, TLAST on the last one: one TLAST per run, where
// the DMA's S2MM transfer of the run ends. F = 0 finishes at once. Input TLAST is not
// looked at. Towards the network: in_frame_last marks the last beat of each input frame
// (the kernels count frames; none but the output's TLAST leaves the top).
module edgec_ctrl #(
    parameter IN_BEATS = 1,
    parameter OUT_BEATS = 1
) (
    input wire clk,
    input wire rst_n,
    // AXI4-Lite slave
    input wire [4:0] awaddr,
    input wire awvalid,
    output wire awready,
    input wire [31:0] wdata,
    input wire [3:0] wstrb,
    input wire wvalid,
    output wire wready,
    output wire [1:0] bresp,
    output reg bvalid,
    input wire bready,
    input wire [4:0] araddr,
    input wire arvalid,
    output wire arready,
    output reg [31:0] rdata,
    output wire [1:0] rresp,
    output reg rvalid,
    input wire rready,
    output wire irq,
    // the outer streams' handshakes, and the network's
    input wire s_tvalid,
    output wire s_tready,
    output wire net_s_tvalid,
    input wire net_s_tready,
    output wire in_frame_last,
    input wire net_m_tvalid,
    output wire net_m_tready,
    output wire m_tvalid,
    input wire m_tready,
    output wire m_tlast
);
    localparam IB = IN_BEATS > 1 ? $clog2(IN_BEATS) : 1;
    localparam OB = OUT_BEATS > 1 ? $clog2(OUT_BEATS) : 1;
    localparam integer IN_L = IN_BEATS - 1, OUT_L = OUT_BEATS - 1;
    localparam [IB-1:0] IN_LAST = IN_L[IB-1:0];
    localparam [OB-1:0] OUT_LAST = OUT_L[OB-1:0];

    reg ap_start, ap_done, ap_ready, auto_restart, gie;
    reg [1:0] ier, isr;
    reg [31:0] frames;
    reg running;
    reg [31:0] in_left, out_left;  // frames still to take in / to let out
    reg [IB-1:0] in_beat;
    reg [OB-1:0] out_beat;

    // AXI4-Lite: a write is taken when address and data are both there; one at a time
    wire wr = awvalid && wvalid && !bvalid;
    assign awready = wr;
    assign wready = wr;
    assign bresp = 2'b00;
    assign arready = !rvalid;
    assign rresp = 2'b00;
    wire rd = arvalid && !rvalid;
    wire [31:0] wmask = {{8{wstrb[3]}}, {8{wstrb[2]}}, {8{wstrb[1]}}, {8{wstrb[0]}}};

    wire in_ok = running && in_left != 0;
    assign net_s_tvalid = s_tvalid && in_ok;
    assign s_tready = net_s_tready && in_ok;
    assign in_frame_last = in_beat == IN_LAST;
    wire out_ok = running && out_left != 0;
    assign m_tvalid = net_m_tvalid && out_ok;
    assign net_m_tready = m_tready && out_ok;
    assign m_tlast = out_left == 1 && out_beat == OUT_LAST;

    wire in_take = net_s_tvalid && net_s_tready;
    wire out_take = m_tvalid && m_tready;
    wire start = ap_start && !running;
    wire finish = running && (out_left == 0 || (out_left == 1 && out_beat == OUT_LAST && out_take));
    assign irq = gie && |(isr & ier);
    wire unused_addr = &{1'b0, awaddr[1:0], araddr[1:0]};  // word addresses

    always @(posedge clk) begin
        if (!rst_n) begin
            ap_start <= 1'b0;
            ap_done <= 1'b0;
            ap_ready <= 1'b0;
            auto_restart <= 1'b0;
            gie <= 1'b0;
            ier <= 2'b00;
            isr <= 2'b00;
            frames <= 32'd0;
            running <= 1'b0;
            in_left <= 32'd0;
            out_left <= 32'd0;
            in_beat <= {IB{1'b0}};
            out_beat <= {OB{1'b0}};
            bvalid <= 1'b0;
            rvalid <= 1'b0;
            rdata <= 32'd0;
        end else begin
            // the run
            if (start) begin
                running <= 1'b1;
                in_left <= frames;
                out_left <= frames;
                in_beat <= {IB{1'b0}};
                out_beat <= {OB{1'b0}};
                ap_ready <= 1'b1;
                if (ier[1]) isr[1] <= 1'b1;
                if (!auto_restart) ap_start <= 1'b0;
            end else begin
                if (in_take) begin
                    in_beat <= in_beat == IN_LAST ? {IB{1'b0}} : in_beat + 1'b1;
                    if (in_beat == IN_LAST) in_left <= in_left - 1'b1;
                end
                if (out_take) begin
                    out_beat <= out_beat == OUT_LAST ? {OB{1'b0}} : out_beat + 1'b1;
                    if (out_beat == OUT_LAST) out_left <= out_left - 1'b1;
                end
                if (finish) begin
                    running <= 1'b0;
                    ap_done <= 1'b1;
                    if (ier[0]) isr[0] <= 1'b1;
                end
            end
            // register writes
            if (wr) begin
                bvalid <= 1'b1;
                case (awaddr[4:2])
                    3'd0: begin
                        if (wstrb[0] && wdata[0]) ap_start <= 1'b1;
                        if (wstrb[0]) auto_restart <= wdata[7];
                    end
                    3'd1: if (wstrb[0]) gie <= wdata[0];
                    3'd2: if (wstrb[0]) ier <= wdata[1:0];
                    3'd3: if (wstrb[0]) isr <= isr ^ wdata[1:0];
                    3'd4: frames <= (frames & ~wmask) | (wdata & wmask);
                    default: ;
                endcase
            end else if (bvalid && bready) begin
                bvalid <= 1'b0;
            end
            // register reads; ap_done and ap_ready clear when AP_CTRL is read
            if (rd) begin
                rvalid <= 1'b1;
                case (araddr[4:2])
                    3'd0: begin
                        rdata <= {24'd0, auto_restart, 3'd0, ap_ready, !running, ap_done, ap_start};
                        if (!finish) ap_done <= 1'b0;
                        if (!start) ap_ready <= 1'b0;
                    end
                    3'd1: rdata <= {31'd0, gie};
                    3'd2: rdata <= {30'd0, ier};
                    3'd3: rdata <= {30'd0, isr};
                    3'd4: rdata <= frames;
                    default: rdata <= 32'd0;
                endcase
            end else if (rvalid && rready) begin
                rvalid <= 1'b0;
            end
        end
    end
endmodule
