`timescale 1ns / 1ps
// edgec RTL kernel library: reduction over a window from edgec_swg — OP 0 max pooling,
// OP 1 average pooling (floor((2s + K) / 2K), rounded half up), OP 2 depthwise
// convolution with the activation of edgec_act.
// In: K window positions x C channels in (k, c) order, PE channels per word. Out: PE
// channels per word, C/PE words per pixel, leaving during the last window position:
// K*C/PE cycles per pixel. Channel c = cf*PE + pe.
// Depthwise: WFILE holds K*CF words of PE*WB bits (word k*CF + cf, lane pe at [pe*WB]);
// TFILE/NFILE (and with SIGNED_STEPS = 1 DFILE) as in edgec_mvau with CF words.
// tlast marks the last output word of each frame of PIXELS pixels.
module edgec_window #(
    parameter OP = 0,
    parameter K = 4,
    parameter C = 1,
    parameter PE = 1,
    parameter IB = 2,
    parameter IS = 0,
    parameter IBIP = 0,
    parameter OB = 2,
    parameter WB = 2,
    parameter AB = 8,
    parameter NT = 0,
    parameter CB = 10,
    parameter OUT_LO = 0,
    parameter BIPOLAR = 0,
    parameter PIXELS = 1,
    parameter WFILE = "w.mem",
    parameter SIGNED_STEPS = 0,
    parameter TFILE = "t.mem",
    parameter NFILE = "n.mem",
    parameter DFILE = "d.mem"
) (
    input wire clk,
    input wire rst_n,
    input wire [PE*IB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [PE*OB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam CF = C / PE;
    localparam DW0 = (AB > IB + WB + 2) ? AB + 1 : IB + WB + 3;
    localparam DW = (CB > DW0) ? CB : DW0;
    localparam TW = (NT > 0 ? NT : 1) * CB * PE;
    localparam DNW = (NT > 0 ? NT : 1) * PE;
    localparam KW_ = K > 1 ? $clog2(K) : 1;
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam PXW = PIXELS > 1 ? $clog2(PIXELS) : 1;
    localparam WAW = K * CF > 1 ? $clog2(K * CF) : 1;
    localparam integer K_L = K - 1, CF_L = CF - 1, PIX_L = PIXELS - 1, WA_L = K * CF - 1;
    localparam [KW_-1:0] K_LAST = K_L[KW_-1:0];
    localparam [CFW-1:0] CF_LAST = CF_L[CFW-1:0];
    localparam [PXW-1:0] PIX_LAST = PIX_L[PXW-1:0];
    localparam [WAW-1:0] WA_LAST = WA_L[WAW-1:0];
    localparam integer K_I = K, K2_I = 2 * K;
    localparam integer ONE_I = 1;
    localparam signed [DW-1:0] K_D = K_I[DW-1:0], K2_D = K2_I[DW-1:0], ONE_D = ONE_I[DW-1:0];

    reg [PE*WB-1:0] wmem[0:K*CF-1];
    reg [TW-1:0] tmem[0:CF-1];
    reg [PE-1:0] nmem[0:CF-1];
    reg [DNW-1:0] dmem[0:CF-1];
    initial begin
        if (OP == 2) $readmemh(WFILE, wmem);
        if (OP == 2 && NT > 0) begin
            $readmemh(TFILE, tmem);
            $readmemh(NFILE, nmem);
        end
        if (OP == 2 && NT > 0 && SIGNED_STEPS != 0) $readmemh(DFILE, dmem);
    end

    reg [KW_-1:0] k;
    reg [CFW-1:0] cf;
    reg [PXW-1:0] pix;
    reg [WAW-1:0] waddr;  // k*CF + cf, counted along
    wire unused_tlast = s_tlast;
    wire last_k = (k == K_LAST);
    wire out_free = !m_tvalid || m_tready;
    assign s_tready = !last_k || out_free;
    wire advance = s_tvalid && s_tready;
    wire [PE*WB-1:0] wrow = wmem[waddr];
    wire [TW-1:0] trow = tmem[cf];
    wire [PE-1:0] nrow = nmem[cf];
    wire [DNW-1:0] drow = dmem[cf];

    wire [PE*DW-1:0] sums;
    wire [PE*OB-1:0] dw_out;
    reg [PE*OB-1:0] result;
    edgec_act #(.PE(PE), .DW(DW), .NT(OP == 2 ? NT : 0), .CB(CB), .OB(OB), .OUT_LO(OUT_LO), .BIPOLAR(BIPOLAR),
                .SIGNED_STEPS(SIGNED_STEPS))
        activation (.acc(sums), .t(trow), .neg(nrow), .dn(drow), .out(dw_out));

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            reg signed [DW-1:0] acc[0:CF-1];
            reg signed [DW-1:0] xe, we, a, sum, s2, q;
            always @* begin
                if (IBIP != 0) xe = s_tdata[p*IB] ? {{(DW - 1) {1'b0}}, 1'b1} : {DW{1'b1}};
                else if (IS != 0) xe = {{(DW - IB) {s_tdata[p*IB+IB-1]}}, s_tdata[p*IB+:IB]};
                else xe = {{(DW - IB) {1'b0}}, s_tdata[p*IB+:IB]};
                we = {{(DW - WB) {wrow[p*WB+WB-1]}}, wrow[p*WB+:WB]};
                a = acc[cf];
                if (OP == 0) sum = (k == 0 || xe > a) ? xe : a;
                else if (OP == 1) sum = ((k == 0) ? {DW{1'b0}} : a) + xe;
                else sum = ((k == 0) ? {DW{1'b0}} : a) + xe * we;
                s2 = (sum <<< 1) + K_D;
                q = s2 / K2_D;
                // floor: one below the truncated quotient of a negative inexact s2 (a
                // 1-bit signed literal 1'sb1 would be -1, and raise it instead)
                if (s2 < 0 && q * K2_D != s2) q = q - ONE_D;
            end
            assign sums[p*DW+:DW] = sum;
            // a bipolar max leaves as one bit: 1 for +1
            always @*
                if (OP == 2) result[p*OB+:OB] = dw_out[p*OB+:OB];
                else if (OP == 1) result[p*OB+:OB] = q[OB-1:0];
                else if (IBIP != 0) result[p*OB+:OB] = {{(OB - 1) {1'b0}}, ~sum[DW-1]};
                else result[p*OB+:OB] = sum[OB-1:0];
            always @(posedge clk) if (advance) acc[cf] <= sum;
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            k <= 0;
            cf <= 0;
            pix <= 0;
            waddr <= 0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (advance) begin
                waddr <= (waddr == WA_LAST) ? {WAW{1'b0}} : waddr + 1'b1;
                if (last_k) begin
                    m_tdata <= result;
                    m_tvalid <= 1'b1;
                    m_tlast <= (cf == CF_LAST) && (pix == PIX_LAST);
                end
                if (cf == CF_LAST) begin
                    cf <= 0;
                    if (last_k) begin
                        k <= 0;
                        pix <= (pix == PIX_LAST) ? {PXW{1'b0}} : pix + 1'b1;
                    end else k <= k + 1'b1;
                end else cf <= cf + 1'b1;
            end
        end
    end
endmodule
