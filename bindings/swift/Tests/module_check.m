// Objective-C's spelling of the import: what an iOS app's .m files write.
@import CPecore;

int main(void) {
    pe_frame f = {0};
    return pe_frame_set_orientation(&f, 6) == PE_OK && f.rotation == 90 && pe_version()[0] ? 0 : 1;
}
