#![allow(dead_code)]
pub mod pth_writer;
pub mod torchvision_layout;
