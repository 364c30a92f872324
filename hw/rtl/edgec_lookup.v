`timescale 1ns / 1ps
// edgec RTL kernel library: a lookup activation of a (vectors, C) stream, channel cf*PE + pe:
// a MultiThreshold held as a table of every input value's code (dataflow.LutAct). Lane p
// holds its CF = C/PE channels' tables in a ROM of CF * 2^IB words of OB bits, word
// cf * 2^IB + j the code of the input's j-th value (IS = 1: a signed input, j = x with its
// top bit flipped; a bipolar code is one bit, 1 for +1), read from the image
// {LFILE, "dddd.mem"} (p in four decimal digits). One word per cycle; the ROM's read
// register is the output register (block RAM when the table is deep).
module edgec_lookup #(
    parameter C = 1,
    parameter PE = 1,
    parameter IB = 8,
    parameter IS = 0,
    parameter OB = 2,
    parameter LFILE = "l_"
) (
    input wire clk,
    input wire rst_n,
    input wire [PE*IB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output wire [PE*OB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam CF = C / PE;
    localparam D = CF << IB;
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam integer FLIP_I = IS != 0 ? 1 << (IB - 1) : 0, LAST_I = CF - 1;
    localparam [IB-1:0] FLIP = FLIP_I[IB-1:0];
    localparam [CFW-1:0] LAST = LAST_I[CFW-1:0];
    reg [CFW-1:0] cf;
    wire out_free = !m_tvalid || m_tready;
    wire take = s_tvalid && out_free;
    assign s_tready = out_free;
    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            localparam [31:0] DIGITS = 32'h30303030 + ((p / 1000 % 10) << 24) + ((p / 100 % 10) << 16)
                                       + ((p / 10 % 10) << 8) + p % 10;
            reg [OB-1:0] rom[0:D-1];
            initial $readmemh({LFILE, DIGITS, ".mem"}, rom);
            wire [IB-1:0] j = s_tdata[p*IB+:IB] ^ FLIP;
            reg [OB-1:0] q;
            if (CF > 1) begin : rows
                always @(posedge clk) if (take) q <= rom[{cf, j}];
            end else begin : one
                always @(posedge clk) if (take) q <= rom[j];
            end
            assign m_tdata[p*OB+:OB] = q;
        end
    endgenerate
    always @(posedge clk) begin
        if (!rst_n) begin
            cf <= {CFW{1'b0}};
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (take) begin
                m_tlast <= s_tlast;
                m_tvalid <= 1'b1;
                cf <= (cf == LAST) ? {CFW{1'b0}} : cf + 1'b1;
            end
        end
    end
endmodule
